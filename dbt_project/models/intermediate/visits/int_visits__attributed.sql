{{ config(materialized='view') }}
-- Every standardized visit with what the marts need to attribute it: the institution's level, type
-- and county, the alliance it belonged to on the visit date, the visit type, and the principal
-- diagnosis category (std.visit_diagnoses seq 1, else the terminology entry of the visit's code).
-- A view: fct_visits (incremental) reads only the months it rebuilds.
with

visits as (

    select * from {{ ref('stg_std__visits') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

levels as (

    select * from {{ ref('ref_institution_levels') }}

),

visit_types as (

    select * from {{ ref('ref_visit_types') }}

),

alliance_periods as (

    select * from {{ ref('int_institutions__alliance_periods') }}

),

principal_ranked as (

    select
        visit_key,
        diagnosis_code,
        icd10_category,
        hypertension_grade,
        row_number() over (partition by visit_key order by diagnosis_code) as duplicate_rank

    from {{ ref('stg_std__visit_diagnoses') }}
    where seq = 1

),

principal_diagnoses as (

    select * from principal_ranked
    where duplicate_rank = 1

),

terminology as (

    select
        diagnosis_code,
        min(icd10_category) as icd10_category

    from {{ ref('stg_ref__terminology') }}
    group by diagnosis_code

),

categories as (

    select * from {{ ref('ref_diagnosis_categories') }}

),

timed as (

    select
        visits.*,
        coalesce(visits.visit_at, visits.admitted_at) as event_at

    from visits

),

joined as (

    select
        timed.visit_key,
        timed.visit_id,
        timed.institution_code,
        timed.person_key,
        timed.sex_code,
        timed.birth_date,
        timed.residence_county_code,
        timed.visit_type_code,
        visit_types.visit_type,
        visit_types.setting,
        timed.event_at,
        timed.visit_at,
        timed.admitted_at,
        timed.discharged_at,
        timed.department_name,
        timed.diagnosis_code,
        timed.diagnosis_name,
        coalesce(principal_diagnoses.diagnosis_code, timed.diagnosis_code) as std_diagnosis_code,
        coalesce(principal_diagnoses.icd10_category, terminology.icd10_category) as icd10_category,
        categories.condition_group,
        principal_diagnoses.hypertension_grade,
        timed.discharge_disposition_code,
        timed.payment_type_code,
        timed.total_fee,
        timed.systolic_bp,
        timed.diastolic_bp,
        timed.fasting_glucose,
        case
            when timed.major_exam_code is null or lower(timed.major_exam_code) = 'none' then null
            else upper(timed.major_exam_code)
        end as major_exam_code,
        institutions.level_code,
        institutions.type_code as institution_type_code,
        institutions.county_code,
        coalesce(levels.is_primary_care, false) as is_primary_care,
        alliance_periods.alliance_id,
        {{ month_start('timed.event_at') }} as month_start,
        {{ to_period('timed.event_at') }} as period,
        timed.source_id,
        timed.file_id,
        timed.source_row_number

    from timed
    left join visit_types
        on timed.visit_type_code = visit_types.visit_type_code
    left join institutions
        on timed.institution_code = institutions.institution_code
    left join levels
        on institutions.level_code = levels.level_code
    left join alliance_periods
        on timed.institution_code = alliance_periods.institution_code
        and cast(timed.event_at as date) >= alliance_periods.valid_from
        and (alliance_periods.valid_to is null or cast(timed.event_at as date) <= alliance_periods.valid_to)
    left join principal_diagnoses
        on timed.visit_key = principal_diagnoses.visit_key
    left join terminology
        on timed.diagnosis_code = terminology.diagnosis_code
    left join categories
        on coalesce(principal_diagnoses.icd10_category, terminology.icd10_category) = categories.icd10_category

)

select * from joined
