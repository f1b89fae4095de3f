-- Referral process at the receiving side (platform referrals only: a discharge disposition has no
-- acceptance step): 上转退回率 and its reasons, hours to acceptance and to arrival (median, p90),
-- 到诊率. Attributed to the receiving institution. Timeliness and 到诊率 mix up- and down-referrals
-- (managed by different hospitals and policies): each also has rows with breakdown = direction
-- ('up' / 'down'); the rows with breakdown null are both directions together.
with

referrals as (

    select * from {{ ref('fct_referrals') }}
    where referral_origin = 'platform'

),

reasons as (

    select return_reason_code from {{ ref('stg_ref__return_reasons') }}

),

ups as (

    select * from referrals
    where direction = 'up' and final_status <> 'cancelled'

),

returned_by_reason as (

    select
        referrals.period,
        referrals.to_institution_code,
        referrals.to_county_code,
        referrals.to_alliance_id,
        referrals.to_level_code,
        reasons.return_reason_code as breakdown,
        case when coalesce(referrals.return_reason_code, '99') = reasons.return_reason_code then 1 else 0 end
            as with_reason

    from referrals
    cross join reasons
    where referrals.direction = 'up' and referrals.final_status = 'returned'

),

accepted as (

    select * from referrals
    where accepted_at is not null or final_status in ('accepted', 'arrived', 'no_show')

),

final as (

    {{ sum_events('up_return_rate', 'ups', "case when final_status = 'returned' then 1 else 0 end", '1',
                  institution='to_institution_code', county='to_county_code',
                  alliance='to_alliance_id', level='to_level_code') }}

    union all

    {{ sum_events('up_return_reason_share', 'returned_by_reason', 'with_reason', '1', breakdown='breakdown',
                  institution='to_institution_code', county='to_county_code',
                  alliance='to_alliance_id', level='to_level_code') }}

    {% for breakdown in [none, 'direction'] %}
    {% for indicator_id, measure in [
        ('hours_to_accept_median', 'hours_to_accept'),
        ('hours_to_accept_p90', 'hours_to_accept'),
        ('hours_to_arrival_median', 'hours_to_arrival'),
        ('hours_to_arrival_p90', 'hours_to_arrival'),
    ] %}
    union all

    {{ measure_events(indicator_id, 'referrals', measure, breakdown=breakdown,
                      institution='to_institution_code', county='to_county_code',
                      alliance='to_alliance_id', level='to_level_code') }}
    {% endfor %}

    union all

    {{ sum_events('arrival_rate', 'accepted', "case when final_status = 'arrived' then 1 else 0 end", '1',
                  breakdown=breakdown,
                  institution='to_institution_code', county='to_county_code',
                  alliance='to_alliance_id', level='to_level_code') }}
    {% endfor %}

)

select * from final
