-- 该转未转: count and share of criteria-meeting primary-care visits not referred.
with

criteria_visits as (

    select * from {{ ref('int_visits__up_referral_criteria') }}

),

final as (

    {{ sum_events('undertreated_cases', 'criteria_visits', 'case when was_referred then 0 else 1 end', 'null') }}

    union all

    {{ sum_events('undertreated_rate', 'criteria_visits', 'case when was_referred then 0 else 1 end', '1') }}

)

select * from final
