-- Referrals per hours bin (var timeliness_hour_bins) of request->acceptance (stage 'accept') and
-- request->arrival (stage 'arrival'), per filter combination (period, county scope, setting; 'ALL'
-- = any) and direction. hours_to is NULL for the open last bin.
{%- set edges = var('timeliness_hour_bins') %}
with

referrals as (

    select period, setting, direction, from_county_code, to_county_code, 'accept' as stage, hours_to_accept as hours
    from {{ ref('fct_referrals') }}
    where hours_to_accept is not null
    union all
    select period, setting, direction, from_county_code, to_county_code, 'arrival' as stage, hours_to_arrival as hours
    from {{ ref('fct_referrals') }}
    where hours_to_arrival is not null

),

binned as (

    select
        referrals.*,
        case
            {%- for hi in edges[1:] %}
            when hours < {{ hi }} then {{ loop.index0 }}
            {%- endfor %}
            else {{ edges | length - 1 }}
        end as bin_order
    from referrals

),

aggregated as (

    select
        {{ referral_filters() }},
        direction,
        stage,
        bin_order,
        count(*) as n
    from ({{ referral_county_scopes('binned') }}) as scoped
    {{ group_by_referral_filters(['direction', 'stage', 'bin_order']) }}

)

select
    period, county_code, setting, direction, stage,
    cast(bin_order as integer) as bin_order,
    cast(case
        {%- for lo in edges %}
        when bin_order = {{ loop.index0 }} then {{ lo }}
        {%- endfor %}
    end as {{ type_double() }}) as hours_from,
    cast(case
        {%- for hi in edges[1:] %}
        when bin_order = {{ loop.index0 }} then {{ hi }}
        {%- endfor %}
    end as {{ type_double() }}) as hours_to,
    {{ suppress('n') }} as n,
    {{ any_suppressed(['n']) }} as suppressed
from aggregated
