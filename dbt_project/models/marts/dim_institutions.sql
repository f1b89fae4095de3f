-- One row per institution in the commission's registry, with its level, type, county and the
-- alliance it belongs to now. Membership history: dim_alliance_memberships.
with

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

levels as (

    select * from {{ ref('stg_ref__institution_levels') }}

),

current_alliance as (

    select * from {{ ref('int_institutions__current_alliance') }}

),

final as (

    select
        institutions.institution_code,
        institutions.institution_name,
        institutions.level_code,
        levels.level_name,
        institutions.type_code,
        institutions.county_code,
        institutions.county_name,
        current_alliance.alliance_id,
        current_alliance.alliance_name,
        current_alliance.alliance_type,
        coalesce(current_alliance.is_lead, false) as is_alliance_lead,
        coalesce(levels.is_primary_care, false) as is_primary_care

    from institutions
    left join levels
        on institutions.level_code = levels.level_code
    left join current_alliance
        on institutions.institution_code = current_alliance.institution_code

)

select * from final
