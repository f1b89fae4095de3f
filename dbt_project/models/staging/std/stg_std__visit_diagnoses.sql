with

source as (

    select * from {{ source('std', 'visit_diagnoses') }}

),

renamed as (

    select
        {{ dbt.concat(["cast(institution_code as " ~ dbt.type_string() ~ ")", "':'",
                       "cast(visit_id as " ~ dbt.type_string() ~ ")"]) }} as visit_key,
        cast(visit_id as {{ dbt.type_string() }}) as visit_id,
        cast(institution_code as {{ dbt.type_string() }}) as institution_code,
        cast(seq as {{ dbt.type_int() }}) as seq,
        cast(source_text as {{ dbt.type_string() }}) as source_text,
        cast(source_code as {{ dbt.type_string() }}) as source_code,
        cast(code_system as {{ dbt.type_string() }}) as code_system,
        cast(code as {{ dbt.type_string() }}) as diagnosis_code,
        cast(name as {{ dbt.type_string() }}) as diagnosis_name,
        cast(icd10_category as {{ dbt.type_string() }}) as icd10_category,
        cast(hypertension_grade as {{ dbt.type_string() }}) as hypertension_grade,
        cast(risk_tier as {{ dbt.type_string() }}) as risk_tier,
        cast(diabetes_type as {{ dbt.type_string() }}) as diabetes_type,
        cast(copd_grade as {{ dbt.type_string() }}) as copd_grade,
        cast(mapping_method as {{ dbt.type_string() }}) as mapping_method,
        cast(confidence as {{ dbt.type_float() }}) as confidence,
        cast(qualifier as {{ dbt.type_string() }}) as qualifier,
        cast(morphology_code as {{ dbt.type_string() }}) as morphology_code,
        cast(is_principal as {{ dbt.type_boolean() }}) as is_principal

    from source

)

select * from renamed
