{{ person_incremental_config('referral_id') }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- Every referral, from two origins:
--   platform:              a 转诊单 in std.referrals;
--   discharge_disposition: an inpatient discharge with 离院方式 3 (医嘱转社区/乡镇卫生院 -> down) or
--                          2 (医嘱转院: up from a primary or secondary institution, down from a
--                          tertiary hospital) for which no platform referral of the same person from
--                          the same institution was requested between admission and discharge + N
--                          days (var disposition_match_window_days). Its receiving institution is
--                          found by linking (int_referrals__linked_to_visits).
-- Incremental by person (issue 16: rebuilt in full it cost ≈ 9 s of a city day): a row depends only
-- on its own referral or discharge and on the same person's platform referrals (a disposition of a
-- visit without a person is never a referral), so a build re-derives the rows of the persons in
-- int_referrals__touched_persons ('-': referrals without a person; '*': everyone, also when the
-- statuses or the visits' reference data change) and keeps the rest. A changed var needs
-- `--full-refresh`, as for every incremental model.
with

platform as (

    select * from {{ ref('stg_std__referrals') }}
    where true {{ touched_persons_only('person_key') }}

),

statuses as (

    select * from {{ ref('stg_ref__referral_statuses') }}

),

inpatient_discharges as (

    select
        visits.*,
        dispositions.value_key as discharge_disposition

    from {{ ref('int_visits__attributed') }} as visits
    {{ join_value_key('LCV.DISCHARGE', 'visits.discharge_disposition_code', 'dispositions') }}
    where visits.setting = 'inpatient'
      and dispositions.value_key in ('transfer_hospital', 'transfer_primary_care')
      and visits.discharged_at is not null
      and visits.person_key is not null {{ touched_persons_only('visits.person_key') }}

),

platform_referrals as (

    select
        platform.referral_id,
        'platform' as referral_origin,
        cast(null as {{ dbt.type_string() }}) as origin_visit_key,
        cast(null as {{ dbt.type_string() }}) as origin_disposition_code,
        platform.person_key,
        platform.direction,
        platform.setting,
        platform.from_institution_code,
        platform.to_institution_code,
        platform.green_channel_flag = 1 as green_channel,
        platform.referral_reason,
        platform.diagnosis_code,
        platform.diagnosis_name,
        platform.requested_at,
        platform.accepted_at,
        platform.returned_at,
        platform.arrived_at,
        platform.status_code,
        statuses.final_status,
        platform.return_reason_code,
        platform.source_id,
        platform.file_id,
        platform.source_row_number

    from platform
    left join statuses
        on platform.status_code = statuses.status_code

),

unmatched_dispositions as (

    select inpatient_discharges.*
    from inpatient_discharges
    where not exists (
        select 1
        from platform_referrals
        where platform_referrals.person_key = inpatient_discharges.person_key
          and platform_referrals.from_institution_code = inpatient_discharges.institution_code
          and platform_referrals.requested_at >= coalesce(inpatient_discharges.admitted_at, inpatient_discharges.event_at)
          and platform_referrals.requested_at <= {{ dbt.dateadd('day', var('disposition_match_window_days'),
                                                                'inpatient_discharges.discharged_at') }}
    )

),

disposition_referrals as (

    select
        {{ dbt.concat(["'DSP:'", "visit_key"]) }} as referral_id,
        'discharge_disposition' as referral_origin,
        visit_key as origin_visit_key,
        discharge_disposition_code as origin_disposition_code,
        person_key,
        case
            when discharge_disposition = 'transfer_hospital' and level_code in ('1', '2') then 'up'
            else 'down'
        end as direction,
        'inpatient' as setting,
        institution_code as from_institution_code,
        cast(null as {{ dbt.type_string() }}) as to_institution_code,
        false as green_channel,
        cast(null as {{ dbt.type_string() }}) as referral_reason,
        std_diagnosis_code as diagnosis_code,
        diagnosis_name,
        discharged_at as requested_at,
        cast(null as {{ dbt.type_timestamp() }}) as accepted_at,
        cast(null as {{ dbt.type_timestamp() }}) as returned_at,
        cast(null as {{ dbt.type_timestamp() }}) as arrived_at,
        cast(null as {{ dbt.type_string() }}) as status_code,
        cast(null as {{ dbt.type_string() }}) as final_status,
        cast(null as {{ dbt.type_string() }}) as return_reason_code,
        source_id,
        file_id,
        source_row_number

    from unmatched_dispositions

),

final as (

    select * from platform_referrals
    union all
    select * from disposition_referrals

)

select * from final
