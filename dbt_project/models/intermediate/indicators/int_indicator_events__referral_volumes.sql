-- Referral volumes: 上转/下转人次 (门急诊/住院), 下转率, 下转人次同比增长率.
-- Attributed to the sending institution.
with

referrals as (

    select
        referrals_mart.*,
        {{ month_start('referrals_mart.requested_at') }} as month_start

    from {{ ref('fct_referrals') }} as referrals_mart

),

discharges as (

    select * from {{ ref('fct_visits') }}
    where setting = 'inpatient' and discharged_at is not null and level_code in ('2', '3')

),

down_rate_parts as (

    select
        period,
        from_institution_code as institution_code,
        from_county_code as county_code,
        from_alliance_id as alliance_id,
        from_level_code as level_code,
        1 as down_referral,
        0 as discharge

    from referrals
    where direction = 'down' and setting = 'inpatient' and from_level_code in ('2', '3')

    union all

    select
        discharge_period,
        institution_code,
        county_code,
        alliance_id,
        level_code,
        0,
        1

    from discharges

),

data_periods as (

    select distinct period from referrals

),

growth_parts as (

    select
        period,
        from_institution_code as institution_code,
        from_county_code as county_code,
        from_alliance_id as alliance_id,
        from_level_code as level_code,
        1 as this_year,
        0 as last_year

    from referrals
    where direction = 'down'

    union all

    select
        {{ to_period(dbt.dateadd('month', 12, 'month_start')) }},
        from_institution_code,
        from_county_code,
        from_alliance_id,
        from_level_code,
        0,
        1

    from referrals
    where direction = 'down'

),

growth_in_range as (

    select growth_parts.*
    from growth_parts
    inner join data_periods
        on growth_parts.period = data_periods.period

),

final as (

    {% for direction, setting, indicator_id in [
        ('up', 'outpatient', 'up_referrals_outpatient'),
        ('up', 'inpatient', 'up_referrals_inpatient'),
        ('down', 'outpatient', 'down_referrals_outpatient'),
        ('down', 'inpatient', 'down_referrals_inpatient'),
    ] %}
    {{ sum_events(indicator_id, 'referrals', '1', 'null',
                  where="direction = '" ~ direction ~ "' and setting = '" ~ setting ~ "'",
                  institution='from_institution_code', county='from_county_code',
                  alliance='from_alliance_id', level='from_level_code') }}

    union all
    {% endfor %}

    {{ sum_events('down_referral_rate', 'down_rate_parts', 'down_referral', 'discharge') }}

    union all

    {{ sum_events('down_referral_yoy_growth', 'growth_in_range', 'this_year', 'last_year') }}

)

select * from final
