-- 高血压/2型糖尿病 规范管理率 and 管理人群血压/血糖控制率 (国家基本公共卫生服务规范（第三版）),
-- attributed to the institution of the latest chronic follow-up.
with

management as (

    select * from {{ ref('int_chronic_care__management_monthly') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

alliance_periods as (

    select * from {{ ref('int_institutions__alliance_periods') }}

),

attributed as (

    select
        management.*,
        institutions.county_code,
        institutions.level_code,
        alliance_periods.alliance_id

    from management
    left join institutions
        on management.institution_code = institutions.institution_code
    left join alliance_periods
        on management.institution_code = alliance_periods.institution_code
        and cast(management.latest_followup_at as date) >= alliance_periods.valid_from
        and (alliance_periods.valid_to is null
             or cast(management.latest_followup_at as date) <= alliance_periods.valid_to)

),

final as (

    {{ sum_events('htn_standard_mgmt_rate', 'attributed', 'case when is_standard_managed then 1 else 0 end', '1',
                  where="condition_group = 'hypertension'") }}

    union all

    {{ sum_events('dm_standard_mgmt_rate', 'attributed', 'case when is_standard_managed then 1 else 0 end', '1',
                  where="condition_group = 'diabetes'") }}

    union all

    {{ sum_events('htn_bp_control_rate', 'attributed', 'case when latest_controlled then 1 else 0 end', '1',
                  where="condition_group = 'hypertension'") }}

    union all

    {{ sum_events('dm_glucose_control_rate', 'attributed', 'case when latest_controlled then 1 else 0 end', '1',
                  where="condition_group = 'diabetes'") }}

)

select * from final
