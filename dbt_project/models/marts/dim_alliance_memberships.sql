-- Alliance membership over time: one row per institution x alliance x period (valid_to null = open).
with

periods as (

    select * from {{ ref('int_institutions__alliance_periods') }}

),

final as (

    select
        membership_key,
        alliance_id,
        alliance_name,
        alliance_type,
        institution_code,
        is_lead,
        valid_from,
        valid_to

    from periods

)

select * from final
