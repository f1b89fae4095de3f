{{ config(materialized='view') }}
-- Which persons each delivered file holds rows for, over the inputs referral linking reads: visits,
-- platform referrals, follow-ups (the follow-up's person and, when it names a referral, that
-- referral's person). Rows without a person key count under the person scope '-'. The reference
-- data the links read (institution levels) is one more "file" whose id is its fingerprint and whose
-- scope is '*' (everyone): a changed institution level re-links every referral.
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

file_persons as (

    select file_id, person_key from visits
    union
    select file_id, person_key from referrals
    union
    select file_id, person_key from followups
    union
    select followups.file_id, referrals.person_key
    from followups
    inner join referrals
        on followups.referral_id = referrals.referral_id

),

reference_fingerprint as (

    select
        {{ dbt.concat(["'ref:institutions:'", dbt.hash(dbt.listagg(
            dbt.concat(["institution_code", "':'", "coalesce(level_code, '')"]),
            "','", "order by institution_code")) ]) }} as file_id,
        cast('*' as {{ dbt.type_string() }}) as person_scope
    from institutions

),

final as (

    select distinct
        cast(coalesce(file_id, '-') as {{ dbt.type_string() }}) as file_id,
        cast(coalesce(person_key, '-') as {{ dbt.type_string() }}) as person_scope
    from file_persons

    union all

    select file_id, person_scope from reference_fingerprint

)

select * from final
