-- The alliance each institution belongs to now: the open membership, else the latest one.
with

periods as (

    select * from {{ ref('int_institutions__alliance_periods') }}

),

ranked as (

    select
        periods.*,
        row_number() over (
            partition by institution_code
            order by case when valid_to is null then 0 else 1 end, valid_to desc, valid_from desc
        ) as recency_rank

    from periods

),

final as (

    select
        institution_code,
        alliance_id,
        alliance_name,
        alliance_type,
        is_lead,
        valid_from,
        valid_to

    from ranked
    where recency_rank = 1

)

select * from final
