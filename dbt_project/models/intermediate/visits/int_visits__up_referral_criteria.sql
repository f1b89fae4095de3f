{{ person_incremental_config('visit_key') }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- Primary-care visits that meet an up-referral criterion (seeds/ref_up_referral_criteria.csv: an
-- element value at or above a threshold, e.g. BP >= 180/110), and whether the person was referred:
-- an up-referral (either origin) requested, or a visit at a level 2/3 institution, from the start of
-- the visit day to undertreated_window_days after the visit.
-- Incremental by person (issue 16: a full rebuild cost 21 s of every city day): a row depends only
-- on its own visit and on the referrals and hospital visits of the same person (a visit without a
-- person is never referred), so a build re-derives the rows of int_referrals__touched_persons (the
-- persons of new, re-sent or withdrawn visit/referral/follow-up files; person scope '-' stands for
-- visits without a person; '*' = everyone, also when the criteria seed or the institutions'
-- levels, counties or alliances change: int_referrals__file_persons) and keeps the rest. The
-- pre-hook deletes the touched persons' rows (also those of visits that vanished), the model
-- inserts them again. The look-ahead needs no window of its own: it reads only touched persons.
with

visits as (

    select * from {{ ref('int_visits__attributed') }}
    where is_primary_care {{ touched_persons_only('person_key') }}

),

criteria as (

    select * from {{ ref('ref_up_referral_criteria') }}

),

referrals as (

    select * from {{ ref('int_referrals__unioned') }}
    where direction = 'up' {{ touched_persons_only('person_key') }}

),

hospital_visits as (

    select * from {{ ref('int_visits__attributed') }}
    where not is_primary_care {{ touched_persons_only('person_key') }}

),

criteria_hits as (

    select
        visits.visit_key,
        criteria.criterion_id

    from visits
    inner join criteria
        on case criteria.element
            when 'systolic_bp' then visits.systolic_bp
            when 'diastolic_bp' then visits.diastolic_bp
            when 'fasting_glucose' then visits.fasting_glucose
        end >= criteria.threshold

),

criteria_ranked as (

    select
        criteria_hits.visit_key,
        criteria_hits.criterion_id,
        criteria.criterion_name,
        criteria.condition_group,
        count(*) over (partition by criteria_hits.visit_key) as criteria_count,
        row_number() over (partition by criteria_hits.visit_key order by criteria_hits.criterion_id) as criterion_rank

    from criteria_hits
    inner join criteria
        on criteria_hits.criterion_id = criteria.criterion_id

),

criteria_met as (

    select
        visit_key,
        criteria_count,
        criterion_id as first_criterion_id,
        criterion_name as first_criterion_name,
        condition_group as first_condition_group

    from criteria_ranked
    where criterion_rank = 1

),

final as (

    select
        visits.visit_key,
        visits.visit_id,
        visits.institution_code,
        visits.person_key,
        visits.event_at,
        visits.systolic_bp,
        visits.diastolic_bp,
        visits.fasting_glucose,
        visits.icd10_category,
        visits.level_code,
        visits.county_code,
        visits.alliance_id,
        visits.period,
        criteria_met.criteria_count,
        criteria_met.first_criterion_id,
        criteria_met.first_criterion_name,
        criteria_met.first_condition_group,
        (
            exists (
                select 1 from referrals
                where referrals.person_key = visits.person_key
                  and referrals.requested_at >= {{ dbt.date_trunc('day', 'visits.event_at') }}
                  and referrals.requested_at <= {{ dbt.dateadd('day', var('undertreated_window_days'), 'visits.event_at') }}
            )
            or exists (
                select 1 from hospital_visits
                where hospital_visits.person_key = visits.person_key
                  and hospital_visits.event_at >= {{ dbt.date_trunc('day', 'visits.event_at') }}
                  and hospital_visits.event_at <= {{ dbt.dateadd('day', var('undertreated_window_days'), 'visits.event_at') }}
            )
        ) as was_referred

    from visits
    inner join criteria_met
        on visits.visit_key = criteria_met.visit_key

)

select * from final
