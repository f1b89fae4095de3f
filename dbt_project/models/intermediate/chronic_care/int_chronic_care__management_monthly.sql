{{
    person_incremental_config(
        ['person_key', 'condition_group', 'month_start'],
        extra_pre_hooks=[
            "{% if is_incremental() %}
             delete from {{ this }}
             where not exists (select 1 from {{ ref('stg_std__followups') }}
                               where followup_type = 'chronic_followup' and person_key is not null)
                or month_start < (select min({{ month_start('followup_at') }}) from {{ ref('stg_std__followups') }}
                                  where followup_type = 'chronic_followup' and person_key is not null)
                or month_start > (select max({{ month_start('followup_at') }}) from {{ ref('stg_std__followups') }}
                                  where followup_type = 'chronic_followup' and person_key is not null)
             {% endif %}"
        ]
    )
}}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- 高血压/2型糖尿病 management (国家基本公共卫生服务规范（第三版）, docs/indicators.md), one row per
-- person x condition x month:
--   diagnosed: a visit with a principal diagnosis in the programme's categories, not a suspected one
--              (a history is never principal: docs/diagnosis.md "The principal diagnosis")
--              (seeds/ref_bphs_conditions: hypertension I10-I15, type 2 diabetes E11 + E14) on or
--              before the end of the month;
--   managed:   diagnosed and >= 1 chronic follow-up (type 2 慢病随访) in the trailing
--              management_window_months months (the month itself included; the specification's 年内);
--   standard (规范管理): managed and >= management_min_followups chronic follow-ups in that window;
--   controlled (血压/血糖控制): the latest follow-up meets every limit in seeds/ref_control_targets.csv
--              (a missing measurement is not controlled). Standard and controlled are independent.
-- Attributed to the institution of the latest follow-up. Months: every month from the first
-- to the last chronic follow-up.
-- Incremental by person (issue 16: a full rebuild cost 22 s of every city day): a person's rows
-- depend only on that person's diagnoses and follow-ups, and on the month spine (first to last
-- chronic follow-up of the whole table). A build re-derives every month of the persons in
-- int_referrals__touched_persons (persons of new, re-sent or withdrawn files; '*' = everyone, also
-- when the programme or control-target seeds change: int_referrals__file_persons). The pre-hooks
-- delete their rows and the rows of months no longer in the spine (its first or last follow-up
-- withdrawn); the kept rows then lie in months of the previous spine, so every spine month outside
-- the kept rows' range (the spine grew: a new month's first follow-up, a back-dated file) is
-- rebuilt for every person. The trailing window and "diagnosed on or before" need nothing more:
-- both read only the person's own rows.
with

{% if is_incremental() %}
touched as (

    select person_scope from {{ ref('int_referrals__touched_persons') }}

),

kept_months as (

    -- the month range of the rows the pre-hooks kept (untouched persons, months still in the spine)
    select min(month_start) as first_kept_month, max(month_start) as last_kept_month
    from {{ this }}

),
{% endif %}

visits as (

    select attributed.person_key, attributed.month_start, programmes.condition_group
    from {{ ref('int_visits__attributed') }} as attributed
    inner join {{ ref('ref_bphs_conditions') }} as programmes
        on attributed.icd10_category = programmes.icd10_category
    where attributed.person_key is not null
      and coalesce(attributed.diagnosis_qualifier, '') <> 'suspected'

),

followups as (

    select
        followups.*,
        {{ month_start('followups.followup_at') }} as month_start

    from {{ ref('stg_std__followups') }} as followups
    where followups.followup_type = 'chronic_followup' and followups.person_key is not null

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

person_months as (

    {% if is_incremental() %}
    -- touched persons: every month of the spine
    select diagnosed.person_key, diagnosed.condition_group, months.month_start
    from diagnosed
    inner join months
        on diagnosed.first_diagnosed_month <= months.month_start
    where exists (select 1 from touched where person_scope = '*')
       or diagnosed.person_key in (select person_scope from touched)

    union all

    -- everyone else: the spine months outside the kept rows' range (none unless the spine grew)
    select diagnosed.person_key, diagnosed.condition_group, months.month_start
    from diagnosed
    inner join months
        on diagnosed.first_diagnosed_month <= months.month_start
    cross join kept_months
    where not exists (select 1 from touched where person_scope = '*')
      and diagnosed.person_key not in (select person_scope from touched)
      and (
          kept_months.first_kept_month is null
          or months.month_start < kept_months.first_kept_month
          or months.month_start > kept_months.last_kept_month
      )
    {% else %}
    select diagnosed.person_key, diagnosed.condition_group, months.month_start
    from diagnosed
    inner join months
        on diagnosed.first_diagnosed_month <= months.month_start
    {% endif %}

),

windowed as (

    select
        person_months.person_key,
        person_months.condition_group,
        person_months.month_start,
        followups.followup_id,
        followups.followup_at,
        followups.institution_code,
        followups.systolic_bp,
        followups.diastolic_bp,
        followups.fasting_glucose,
        row_number() over (
            partition by person_months.person_key, person_months.condition_group, person_months.month_start
            order by followups.followup_at desc, followups.followup_id desc
        ) as recency_rank,
        count(*) over (
            partition by person_months.person_key, person_months.condition_group, person_months.month_start
        ) as followups_in_window

    from person_months
    inner join followups
        on followups.person_key = person_months.person_key
        and followups.month_start <= person_months.month_start
        and followups.month_start > {{ dbt.dateadd('month', -var('management_window_months'), 'person_months.month_start') }}

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
