-- Referral outcomes: 下转后24小时家庭医生联系率 and 7日内重复检查率 (receiving institution),
-- 转诊闭环率 (sending institution). Returned and cancelled referrals are excluded. 闭环率 and 重复检查率
-- mix directions: each also has rows with breakdown = direction ('up' / 'down').
with

referrals as (

    select * from {{ ref('fct_referrals') }}
    where coalesce(final_status, 'requested') not in ('returned', 'cancelled')

),

downs as (

    select * from referrals where direction = 'down'

),

arrived_with_prior_exam as (

    select * from referrals where final_status = 'arrived' and had_prior_major_exam

),

final as (

    {{ sum_events('fd_contact_24h_rate', 'downs', 'case when fd_contact_within_24h then 1 else 0 end', '1',
                  institution='to_institution_code', county='to_county_code',
                  alliance='to_alliance_id', level='to_level_code') }}

    {% for breakdown in [none, 'direction'] %}
    union all

    {{ sum_events('closed_loop_rate', 'referrals', 'case when closed_loop then 1 else 0 end', '1',
                  breakdown=breakdown,
                  institution='from_institution_code', county='from_county_code',
                  alliance='from_alliance_id', level='from_level_code') }}

    union all

    {{ sum_events('repeat_exam_7d_rate', 'arrived_with_prior_exam',
                  'case when repeated_major_exam then 1 else 0 end', '1', breakdown=breakdown,
                  institution='to_institution_code', county='to_county_code',
                  alliance='to_alliance_id', level='to_level_code') }}
    {% endfor %}

)

select * from final
