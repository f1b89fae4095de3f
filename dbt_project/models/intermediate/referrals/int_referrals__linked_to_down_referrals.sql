{{ linking_config() }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- Each up-referral linked to the down-referral that follows it: the first down-referral (either
-- origin) of the same person requested in (up request, up request + down_referral_window_days],
-- from any institution.
with

referrals as (

    select * from {{ ref('int_referrals__unioned') }}
    where 1 = 1 {{ touched_persons_only('person_key') }}

),

ups as (

    select * from referrals
    where direction = 'up' and person_key is not null

),

downs as (

    select * from referrals
    where direction = 'down' and person_key is not null

),

candidates as (

    select
        ups.referral_id,
        ups.person_key,
        downs.referral_id as down_referral_id,
        downs.requested_at as down_requested_at,
        row_number() over (
            partition by ups.referral_id
            order by downs.requested_at, downs.referral_id
        ) as candidate_rank

    from ups
    inner join downs
        on ups.person_key = downs.person_key
        and downs.requested_at > ups.requested_at
        and downs.requested_at <= {{ dbt.dateadd('day', var('down_referral_window_days'), 'ups.requested_at') }}

),

final as (

    select
        referral_id,
        cast(coalesce(person_key, '-') as {{ dbt.type_string() }}) as person_scope,
        down_referral_id as next_down_referral_id,
        down_requested_at as next_down_referral_at

    from candidates
    where candidate_rank = 1

)

select * from final
