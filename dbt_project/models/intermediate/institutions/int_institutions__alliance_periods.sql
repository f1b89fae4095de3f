-- One row per institution x alliance membership period (alliance membership changes over time).
-- valid_to null = open membership. Used to attribute an event to the alliance its institution
-- belonged to on the event date.
with

memberships as (

    select * from {{ ref('stg_ref__alliance_memberships') }}

),

final as (

    select
        {{ dbt.concat(["alliance_id", "':'", "institution_code", "':'",
                       "cast(start_date as " ~ dbt.type_string() ~ ")"]) }} as membership_key,
        alliance_id,
        alliance_name,
        alliance_type,
        institution_code,
        is_lead = 1 as is_lead,
        start_date as valid_from,
        end_date as valid_to

    from memberships

)

select * from final
