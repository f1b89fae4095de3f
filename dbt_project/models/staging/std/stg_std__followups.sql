with

source as (

    select * from {{ source('std', 'followups') }}

),

renamed as (

    select
        cast(followup_id as {{ dbt.type_string() }}) as followup_id,
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(person_key as {{ dbt.type_string() }}) as person_key,
        cast(followup_datetime as {{ dbt.type_timestamp() }}) as followup_at,
        cast(followup_type_code as {{ dbt.type_string() }}) as followup_type_code,
        followup_types.value_key as followup_type,
        cast(doctor_id as {{ dbt.type_string() }}) as doctor_id,
        cast(referral_id as {{ dbt.type_string() }}) as referral_id,
        cast(systolic_bp as {{ type_double() }}) as systolic_bp,
        cast(diastolic_bp as {{ type_double() }}) as diastolic_bp,
        cast(fasting_glucose as {{ type_double() }}) as fasting_glucose,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(file_id as {{ dbt.type_string() }}) as file_id,
        cast(row_number as {{ dbt.type_int() }}) as source_row_number

    from source
    {{ join_value_key('LCV.FOLLOWUP_TYPE', 'source.followup_type_code', 'followup_types') }}

)

select * from renamed
