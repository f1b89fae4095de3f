with

source as (

    select * from {{ source('std', 'visits') }}

),

renamed as (

    select
        {{ dbt.concat(["cast(institution_code as " ~ dbt.type_string() ~ ")", "':'",
                       "cast(visit_id as " ~ dbt.type_string() ~ ")"]) }} as visit_key,
        cast(visit_id as {{ dbt.type_string() }}) as visit_id,
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(person_key as {{ dbt.type_string() }}) as person_key,
        cast(sex_code as {{ dbt.type_string() }}) as sex_code,
        cast(birth_date as date) as birth_date,
        cast(residence_county_code as {{ dbt.type_string() }}) as residence_county_code,
        cast(visit_type_code as {{ dbt.type_string() }}) as visit_type_code,
        cast(visit_datetime as {{ dbt.type_timestamp() }}) as visit_at,
        cast(admission_datetime as {{ dbt.type_timestamp() }}) as admitted_at,
        cast(discharge_datetime as {{ dbt.type_timestamp() }}) as discharged_at,
        cast(department_name as {{ dbt.type_string() }}) as department_name,
        cast(diagnosis_code as {{ dbt.type_string() }}) as diagnosis_code,
        cast(diagnosis_name as {{ dbt.type_string() }}) as diagnosis_name,
        cast(discharge_disposition_code as {{ dbt.type_string() }}) as discharge_disposition_code,
        cast(payment_type_code as {{ dbt.type_string() }}) as payment_type_code,
        cast(total_fee as {{ type_double() }}) as total_fee,
        cast(systolic_bp as {{ type_double() }}) as systolic_bp,
        cast(diastolic_bp as {{ type_double() }}) as diastolic_bp,
        cast(fasting_glucose as {{ type_double() }}) as fasting_glucose,
        cast(major_exam_code as {{ dbt.type_string() }}) as major_exam_code,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(file_id as {{ dbt.type_string() }}) as file_id,
        cast(row_number as {{ dbt.type_int() }}) as source_row_number

    from source

)

select * from renamed
