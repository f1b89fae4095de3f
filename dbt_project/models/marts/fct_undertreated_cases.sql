-- 该转未转: primary-care visits that met an up-referral criterion but were not referred (see
-- int_visits__up_referral_criteria for the rule and window). One row per such visit.
with

criteria_visits as (

    select * from {{ ref('int_visits__up_referral_criteria') }}

),

final as (

    select
        visit_key,
        visit_id,
        institution_code,
        person_key,
        event_at as visit_at,
        systolic_bp,
        diastolic_bp,
        fasting_glucose,
        icd10_category,
        first_criterion_id as criterion_id,
        first_criterion_name as criterion_zh,
        first_condition_group as condition,
        criteria_count,
        level_code,
        county_code,
        alliance_id,
        period

    from criteria_visits
    where not was_referred

)

select * from final
