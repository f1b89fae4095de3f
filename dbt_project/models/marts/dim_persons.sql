-- One row per pseudonymous person seen in visits, referrals, follow-ups, contracts or bookings.
-- Sex and birth year: most recent visit that has them (else referral). County of residence: most
-- recent visit. Signed family doctor: the contract signed last that is still open (else the latest).
with

visits as (

    select * from {{ ref('stg_std__visits') }}

),

referrals as (

    select * from {{ ref('stg_std__referrals') }}

),

contracts as (

    select * from {{ ref('stg_std__contracts') }}

),

all_persons as (

    select person_key from visits
    union
    select person_key from referrals
    union
    select person_key from {{ ref('stg_std__followups') }}
    union
    select person_key from contracts
    union
    select person_key from {{ ref('stg_std__slot_bookings') }}

),

demographics as (

    select
        person_key,
        sex_code,
        birth_date,
        residence_county_code,
        row_number() over (
            partition by person_key
            order by priority, observed_at desc
        ) as recency_rank

    from (
        select person_key, sex_code, birth_date, residence_county_code,
               coalesce(visit_at, admitted_at) as observed_at, 1 as priority
        from visits
        union all
        select person_key, sex_code, birth_date, cast(null as {{ dbt.type_string() }}),
               requested_at, 2
        from referrals
    ) as observations

),

latest_contract as (

    select
        person_key,
        contract_id,
        institution_code,
        doctor_id,
        sign_date,
        end_date,
        row_number() over (
            partition by person_key
            order by case when end_date is null then 0 else 1 end, sign_date desc, contract_id
        ) as recency_rank

    from contracts

),

final as (

    select
        all_persons.person_key,
        demographics.sex_code,
        cast(extract(year from demographics.birth_date) as {{ dbt.type_int() }}) as birth_year,
        demographics.residence_county_code,
        latest_contract.contract_id as family_doctor_contract_id,
        latest_contract.institution_code as family_doctor_institution_code,
        latest_contract.doctor_id as family_doctor_id,
        latest_contract.sign_date as family_doctor_signed_on,
        latest_contract.end_date as family_doctor_ends_on

    from all_persons
    left join demographics
        on all_persons.person_key = demographics.person_key
        and demographics.recency_rank = 1
    left join latest_contract
        on all_persons.person_key = latest_contract.person_key
        and latest_contract.recency_rank = 1
    where all_persons.person_key is not null

)

select * from final
