with

source as (

    select * from {{ source('std', 'referrals') }}

),

renamed as (

    select
        cast(referral_id as {{ dbt.type_string() }}) as referral_id,
        cast(person_key as {{ dbt.type_string() }}) as person_key,
        cast(sex_code as {{ dbt.type_string() }}) as sex_code,
        cast(birth_date as date) as birth_date,
        cast(from_institution_code as {{ dbt.type_string() }}) as from_institution_code,
        cast(to_institution_code as {{ dbt.type_string() }}) as to_institution_code,
        cast(direction_code as {{ dbt.type_string() }}) as direction_code,
        cast(setting_code as {{ dbt.type_string() }}) as setting_code,
        directions.value_key as direction,
        settings.value_key as setting,
        cast(green_channel_flag as {{ dbt.type_int() }}) as green_channel_flag,
        cast(referral_reason as {{ dbt.type_string() }}) as referral_reason,
        cast(diagnosis_code as {{ dbt.type_string() }}) as diagnosis_code,
        cast(diagnosis_name as {{ dbt.type_string() }}) as diagnosis_name,
        cast(request_datetime as {{ dbt.type_timestamp() }}) as requested_at,
        cast(status_code as {{ dbt.type_string() }}) as status_code,
        cast(accept_datetime as {{ dbt.type_timestamp() }}) as accepted_at,
        cast(return_datetime as {{ dbt.type_timestamp() }}) as returned_at,
        cast(return_reason_code as {{ dbt.type_string() }}) as return_reason_code,
        cast(arrival_datetime as {{ dbt.type_timestamp() }}) as arrived_at,
        cast(discharge_plan as {{ dbt.type_string() }}) as discharge_plan,
        cast(source_id as {{ dbt.type_string() }}) as source_id,
        cast(file_id as {{ dbt.type_string() }}) as file_id,
        cast(row_number as {{ dbt.type_int() }}) as source_row_number

    from source
    {{ join_value_key('LCV.REF_DIRECTION', 'source.direction_code', 'directions') }}
    {{ join_value_key('LCV.REF_SETTING', 'source.setting_code', 'settings') }}

)

select * from renamed
