{#- Incremental by file (a table on Spark, whose models are rebuilt whole): a delivered file's
    persons do not change while its file id stays, so a build adds the new files' persons and keeps
    the rest (rebuilt whole this took 17 s of a city day). The pre-hooks (macros/file_persons.sql)
    drop the files no longer delivered, the follow-up files (their referral persons are read across
    files), the rows without a file, the reference fingerprints (always recomputed), and everything
    after a full standardize (rows rewritten under the same file ids). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=([] if target.type == 'spark' else
              ["{{ delete_all_file_persons_after_full_standardize() }}", "{{ delete_stale_file_persons() }}"])
) }}
{#- the standardize run log (pipelines/standardize): absent from hand-made test warehouses and from
    the Spark lake (whose models are rebuilt whole) -#}
{%- set std_runs = none if target.type == 'spark' else
    adapter.get_relation(database=this.database, schema='std', identifier='standardize_runs') %}
{%- set new_files_only = this is not none and is_incremental() %}
-- Which persons each delivered file holds rows for, over the inputs referral linking reads: visits,
-- platform referrals, follow-ups (the follow-up's person and, when it names a referral, that
-- referral's person). Rows without a person key count under the person scope '-'. The reference
-- data the links read (institution levels) is one more "file" whose id is its fingerprint and whose
-- scope is '*' (everyone): a changed institution level re-links every referral. A second such file
-- fingerprints the reference data the other incremental per-person models read
-- (int_visits__up_referral_criteria: the criteria seed, the institutions' counties, the alliance
-- periods, which levels are primary care; int_chronic_care__management_monthly: the programme and
-- control-target seeds; int_referrals__unioned: the referral statuses; all of them through
-- int_visits__attributed: the visit types, the terminology's categories, the diagnosis categories):
-- a change there rebuilds them (and the links) for everyone.
-- int_referrals__touched_persons compares this with the ledger of the last successful build.
with

visits as (

    select file_id, person_key from {{ ref('stg_std__visits') }}

),

referrals as (

    select referral_id, file_id, person_key from {{ ref('stg_std__referrals') }}

),

followups as (

    select file_id, person_key, referral_id from {{ ref('stg_std__followups') }}

),

institutions as (

    select institution_code, level_code from {{ ref('stg_ref__institutions') }}

),

person_model_reference as (

    select {{ dbt.concat(["'institution:'", "institution_code", "':'", "coalesce(level_code, '')", "':'",
                          "coalesce(county_code, '')"]) }} as item
    from {{ ref('stg_ref__institutions') }}

    union all

    select {{ dbt.concat(["'level:'", "level_code", "':'",
                          "cast(is_primary_care as " ~ dbt.type_string() ~ ")"]) }}
    from {{ ref('stg_ref__institution_levels') }}

    union all

    select {{ dbt.concat(["'alliance:'", "institution_code", "':'", "coalesce(alliance_id, '')", "':'",
                          "coalesce(cast(valid_from as " ~ dbt.type_string() ~ "), '')", "':'",
                          "coalesce(cast(valid_to as " ~ dbt.type_string() ~ "), '')"]) }}
    from {{ ref('int_institutions__alliance_periods') }}

    union all

    select {{ dbt.concat(["'criterion:'", "criterion_id", "':'", "coalesce(criterion_name, '')", "':'",
                          "coalesce(condition_group, '')", "':'", "coalesce(element, '')", "':'",
                          "coalesce(cast(threshold as " ~ dbt.type_string() ~ "), '')"]) }}
    from {{ ref('ref_up_referral_criteria') }}

    union all

    select {{ dbt.concat(["'programme:'", "icd10_category", "':'", "coalesce(condition_group, '')"]) }}
    from {{ ref('ref_bphs_conditions') }}

    union all

    select {{ dbt.concat(["'target:'", "condition_group", "':'", "element", "':'",
                          "coalesce(cast(upper_limit_exclusive as " ~ dbt.type_string() ~ "), '')"]) }}
    from {{ ref('ref_control_targets') }}

    union all

    -- what int_visits__attributed derives a visit's setting and principal category from, and the
    -- referral statuses of int_referrals__unioned
    select {{ dbt.concat(["'visit_type:'", "visit_type_code", "':'", "coalesce(setting, '')"]) }}
    from {{ ref('stg_ref__visit_types') }}

    union all

    select {{ dbt.concat(["'status:'", "status_code", "':'", "coalesce(final_status, '')"]) }}
    from {{ ref('stg_ref__referral_statuses') }}

    union all

    select {{ dbt.concat(["'term:'", "diagnosis_code", "':'", "coalesce(icd10_category, '')"]) }}
    from {{ ref('stg_ref__terminology') }}

    union all

    select {{ dbt.concat(["'category:'", "icd10_category", "':'", "coalesce(condition_group, '')", "':'",
                          "coalesce(cast(is_chronic as " ~ dbt.type_string() ~ "), '')"]) }}
    from {{ ref('ref_diagnosis_categories') }}

    {%- if std_runs is not none %}

    union all

    -- a full standardize (new standard or terminology version, --full) rewrites std rows in place,
    -- under the same file ids: everyone's rows may have changed
    select {{ dbt.concat(["'standardize_full:'", "coalesce(cast(max(run_id) as " ~ dbt.type_string() ~ "), '')"]) }}
    from {{ std_runs }}
    where mode = 'full'
    {%- endif %}

),

file_persons as (

    select file_id, person_key from visits {{ file_not_kept('file_id', new_files_only) }}
    union
    select file_id, person_key from referrals {{ file_not_kept('file_id', new_files_only) }}
    union
    select file_id, person_key from followups {{ file_not_kept('file_id', new_files_only) }}
    union
    select followups.file_id, referrals.person_key
    from followups
    inner join referrals
        on followups.referral_id = referrals.referral_id
    {{ file_not_kept('followups.file_id', new_files_only) }}

),

reference_fingerprint as (

    select
        {{ dbt.concat(["'ref:institutions:'", dbt.hash(dbt.listagg(
            dbt.concat(["institution_code", "':'", "coalesce(level_code, '')"]),
            "','", "order by institution_code")) ]) }} as file_id,
        cast('*' as {{ dbt.type_string() }}) as person_scope
    from institutions

    union all

    select
        {{ dbt.concat(["'ref:person_models:'", dbt.hash(dbt.listagg("item", "','", "order by item")) ]) }} as file_id,
        cast('*' as {{ dbt.type_string() }}) as person_scope
    from person_model_reference

),

final as (

    select distinct
        cast(coalesce(file_id, '-') as {{ dbt.type_string() }}) as file_id,
        cast(coalesce(person_key, '-') as {{ dbt.type_string() }}) as person_scope
    from file_persons

    union all

    select file_id, person_scope from reference_fingerprint
    {%- if std_runs is not none %}

    union all

    -- which full standardize the kept rows come after (the first pre-hook compares it)
    select {{ file_persons_full_marker(std_runs) }} as file_id, cast('*' as {{ dbt.type_string() }}) as person_scope
    {%- endif %}

)

select * from final
