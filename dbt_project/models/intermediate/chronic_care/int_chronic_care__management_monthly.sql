-- 高血压/2型糖尿病 management (国家基本公共卫生服务规范（第三版）, docs/indicators.md), one row per
-- person x condition x month:
--   diagnosed: a visit with a principal diagnosis in the programme's categories
--              (seeds/ref_bphs_conditions: hypertension I10-I15, type 2 diabetes E11 + E14) on or
--              before the end of the month;
--   managed:   diagnosed and >= 1 chronic follow-up (type 2 慢病随访) in the trailing
--              management_window_months months (the month itself included; the specification's 年内);
--   standard (规范管理): managed and >= management_min_followups chronic follow-ups in that window;
--   controlled (血压/血糖控制): the latest follow-up meets every limit in seeds/ref_control_targets.csv
--              (a missing measurement is not controlled). Standard and controlled are independent.
-- Attributed to the institution of the latest follow-up. Months: every month from the first
-- to the last chronic follow-up.
with

visits as (

    select attributed.person_key, attributed.month_start, programmes.condition_group
    from {{ ref('int_visits__attributed') }} as attributed
    inner join {{ ref('ref_bphs_conditions') }} as programmes
        on attributed.icd10_category = programmes.icd10_category
    where attributed.person_key is not null

),

followups as (

    select
        followups.*,
        {{ month_start('followups.followup_at') }} as month_start

    from {{ ref('stg_std__followups') }} as followups
    where followups.followup_type_code = '2' and followups.person_key is not null

),

targets as (

    select * from {{ ref('ref_control_targets') }}

),

months as (

    select distinct month_start
    from {{ ref('dim_dates') }}
    where month_start >= (select min(month_start) from followups)
      and month_start <= (select max(month_start) from followups)

),

diagnosed as (

    select
        person_key,
        condition_group,
        min(month_start) as first_diagnosed_month

    from visits
    group by person_key, condition_group

),

windowed as (

    select
        diagnosed.person_key,
        diagnosed.condition_group,
        months.month_start,
        followups.followup_id,
        followups.followup_at,
        followups.institution_code,
        followups.systolic_bp,
        followups.diastolic_bp,
        followups.fasting_glucose,
        row_number() over (
            partition by diagnosed.person_key, diagnosed.condition_group, months.month_start
            order by followups.followup_at desc, followups.followup_id desc
        ) as recency_rank,
        count(*) over (
            partition by diagnosed.person_key, diagnosed.condition_group, months.month_start
        ) as followups_in_window

    from diagnosed
    inner join months
        on diagnosed.first_diagnosed_month <= months.month_start
    inner join followups
        on followups.person_key = diagnosed.person_key
        and followups.month_start <= months.month_start
        and followups.month_start > {{ dbt.dateadd('month', -var('management_window_months'), 'months.month_start') }}

),

latest as (

    select * from windowed
    where recency_rank = 1

),

control_checks as (

    select
        latest.person_key,
        latest.condition_group,
        latest.month_start,
        min(
            case
                when (case targets.element
                        when 'systolic_bp' then latest.systolic_bp
                        when 'diastolic_bp' then latest.diastolic_bp
                        when 'fasting_glucose' then latest.fasting_glucose
                      end) < targets.upper_limit_exclusive then 1
                else 0
            end
        ) as all_limits_met

    from latest
    inner join targets
        on latest.condition_group = targets.condition_group
    group by latest.person_key, latest.condition_group, latest.month_start

),

final as (

    select
        latest.person_key,
        latest.condition_group,
        latest.month_start,
        {{ to_period('latest.month_start') }} as period,
        latest.institution_code,
        latest.followup_at as latest_followup_at,
        latest.followups_in_window,
        coalesce(control_checks.all_limits_met, 0) = 1 as latest_controlled,
        true as is_managed,
        latest.followups_in_window >= {{ var('management_min_followups') }} as is_standard_managed

    from latest
    left join control_checks
        on latest.person_key = control_checks.person_key
        and latest.condition_group = control_checks.condition_group
        and latest.month_start = control_checks.month_start

)

select * from final
