-- Which months are complete, judged from the data received (not the calendar): a month is complete
-- when every active source has delivered data through the month's last day.
--   coverage of a source: the days of its events (visit/admission/discharge, referral request,
--     follow-up, slot release, booking) in std.*; it has delivered through its latest event day;
--   active in a month: the source's first event day is on or before the month's last day (a source
--     that has started delivering is expected every month after);
--   missing: active sources whose latest event day is before the month's last day.
-- One row per month from the first to the last month holding any event. A month that ended long ago
-- but whose sources stopped on its first day stays partial.
with

event_days as (

    select source_id, cast(visit_at as date) as event_day from {{ ref('stg_std__visits') }}
    union all
    select source_id, cast(admitted_at as date) from {{ ref('stg_std__visits') }}
    union all
    select source_id, cast(discharged_at as date) from {{ ref('stg_std__visits') }}
    union all
    select source_id, cast(requested_at as date) from {{ ref('stg_std__referrals') }}
    union all
    select source_id, cast(followup_at as date) from {{ ref('stg_std__followups') }}
    union all
    select source_id, cast(released_at as date) from {{ ref('stg_std__slot_pools') }}
    union all
    select source_id, cast(booked_at as date) from {{ ref('stg_std__slot_bookings') }}

),

coverage as (

    select
        source_id,
        min(event_day) as first_day,
        max(event_day) as last_day

    from event_days
    where event_day is not null and source_id is not null
    group by source_id

),

months as (

    select distinct month_start, period
    from {{ ref('dim_dates') }}
    where month_start >= (select {{ month_start('min(first_day)') }} from coverage)
      and month_start <= (select {{ month_start('max(last_day)') }} from coverage)

),

month_sources as (

    select
        months.period,
        months.month_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'months.month_start')) }} as date) as month_end,
        coverage.source_id,
        coverage.last_day

    from months
    inner join coverage
        on coverage.first_day < {{ dbt.dateadd('month', 1, 'months.month_start') }}

),

final as (

    select
        period,
        month_start,
        month_end,
        cast(count(*) as {{ dbt.type_int() }}) as active_sources,
        cast(sum(case when last_day >= month_end then 1 else 0 end) as {{ dbt.type_int() }}) as complete_sources,
        sum(case when last_day < month_end then 1 else 0 end) = 0 as is_complete,
        {{ dbt.listagg(
            "case when last_day < month_end then source_id end", "','", "order by source_id") }}
            as missing_sources,
        {{ dbt.listagg(
            "case when last_day < month_end then " ~ dbt.concat(["source_id", "'（数据截至 '",
                "cast(last_day as " ~ dbt.type_string() ~ ")", "'）'"]) ~ " end",
            "'；'", "order by source_id") }} as missing_detail_zh

    from month_sources
    group by period, month_start, month_end

)

select * from final
