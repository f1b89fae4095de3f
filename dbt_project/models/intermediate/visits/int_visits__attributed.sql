{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='delete+insert',
        unique_key='visit_key',
        on_schema_change='fail',
        pre_hook=([] if target.type == 'spark' else ["{{ delete_stale_attributed_visits() }}"])
    )
}}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- Every standardized visit with what the marts need to attribute it: the institution's level, type
-- and county, the alliance it belonged to on the visit date, the visit type, and the principal
-- diagnosis category (the is_principal row of std.visit_diagnoses: never a history, a suspected one
-- flagged in diagnosis_qualifier; the terminology entry of the visit's code only when the standardizer
-- found no diagnosis in the field at all, so a field naming only a history has no category).
-- A table (seven models read it: fct_visits, the referral links, the referrals, the up-referral
-- criteria, the chronic-care panel; as a view each read recomputed it, ≈ 4–6 s a read at city
-- scale), incremental by file (rebuilt whole it cost ≈ 24 s of a city day): a row depends only on
-- its visit, that visit's diagnoses (standardized with it, same file) and reference data. A build
-- inserts the visits of files not yet in the table and, by the pre-hook, deletes those of files no
-- longer in std.visits (replaced or withdrawn); rows without a file id are always re-derived; when
-- int_referrals__touched_persons holds '*' (reference data changed, a full standardize rewrote std
-- in place, a first build or --full-refresh) every row is.
with

{% if is_incremental() %}
new_files as (

    select distinct file_id from {{ ref('stg_std__visits') }}
    except
    select distinct file_id from {{ this }}

),
{% endif %}

visits as (

    select * from {{ ref('stg_std__visits') }}
    {% if is_incremental() %}
    where file_id is null
       or file_id in (select file_id from new_files)
       or exists (select 1 from {{ ref('int_referrals__touched_persons') }} where person_scope = '*')
    {% endif %}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

levels as (

    select * from {{ ref('stg_ref__institution_levels') }}

),

visit_types as (

    select * from {{ ref('stg_ref__visit_types') }}

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
        qualifier,
        row_number() over (partition by visit_key order by diagnosis_code) as duplicate_rank

    from {{ ref('stg_std__visit_diagnoses') }}
    where is_principal
    {% if is_incremental() %} and visit_key in (select visit_key from visits) {% endif %}

),

standardized_visits as (

    select distinct visit_key
    from {{ ref('stg_std__visit_diagnoses') }}
    {% if is_incremental() %} where visit_key in (select visit_key from visits) {% endif %}

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
        case
            when standardized_visits.visit_key is null then timed.diagnosis_code
            else principal_diagnoses.diagnosis_code
        end as std_diagnosis_code,
        coalesce(principal_diagnoses.icd10_category, terminology.icd10_category) as icd10_category,
        categories.condition_group,
        principal_diagnoses.hypertension_grade,
        principal_diagnoses.qualifier as diagnosis_qualifier,
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
    left join standardized_visits
        on timed.visit_key = standardized_visits.visit_key
    left join terminology
        on timed.diagnosis_code = terminology.diagnosis_code
        and standardized_visits.visit_key is null
    left join categories
        on coalesce(principal_diagnoses.icd10_category, terminology.icd10_category) = categories.icd10_category

)

select * from joined
