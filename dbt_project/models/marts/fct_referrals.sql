-- One row per referral (platform 转诊单 or recognised from a discharge disposition 2/3), with its
-- direction, setting, both institutions and their levels/counties/alliances, every lifecycle
-- timestamp, final status, return reason, durations and the links (receiving visit, next
-- down-referral, family-doctor contact, follow-ups, repeat exams). Linking rules: docs/indicators.md.
with

referrals as (

    select * from {{ ref('int_referrals__unioned') }}

),

receiving as (

    select * from {{ ref('int_referrals__linked_to_visits') }}

),

next_down as (

    select * from {{ ref('int_referrals__linked_to_down_referrals') }}

),

followup_links as (

    select * from {{ ref('int_referrals__linked_to_followups') }}

),

exam_links as (

    select * from {{ ref('int_referrals__linked_to_exams') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

alliance_periods as (

    select * from {{ ref('int_institutions__alliance_periods') }}

),

reasons as (

    select * from {{ ref('stg_ref__return_reasons') }}

),

resolved as (

    select
        referrals.*,
        coalesce(referrals.to_institution_code, receiving.receiving_institution_code) as resolved_to_institution_code,
        case
            when referrals.referral_origin = 'platform' then referrals.arrived_at
            else receiving.receiving_visit_at
        end as resolved_arrived_at,
        case
            when referrals.referral_origin = 'platform' then referrals.final_status
            when receiving.receiving_visit_key is not null then 'arrived'
            else 'requested'
        end as resolved_final_status,
        receiving.receiving_visit_key,
        receiving.receiving_visit_id

    from referrals
    left join receiving
        on referrals.referral_id = receiving.referral_id

),

final as (

    select
        resolved.referral_id,
        resolved.referral_origin,
        resolved.origin_visit_key,
        resolved.person_key,
        resolved.direction,
        resolved.setting,
        resolved.from_institution_code,
        resolved.resolved_to_institution_code as to_institution_code,
        from_institution.level_code as from_level_code,
        to_institution.level_code as to_level_code,
        from_institution.county_code as from_county_code,
        to_institution.county_code as to_county_code,
        from_alliance.alliance_id as from_alliance_id,
        to_alliance.alliance_id as to_alliance_id,
        coalesce(
            from_alliance.alliance_id is not null and from_alliance.alliance_id = to_alliance.alliance_id,
            false
        ) as same_alliance,
        coalesce(resolved.green_channel, false) as green_channel,
        resolved.referral_reason,
        resolved.diagnosis_code,
        resolved.diagnosis_name,
        resolved.requested_at,
        resolved.accepted_at,
        resolved.returned_at,
        resolved.resolved_arrived_at as arrived_at,
        resolved.status_code,
        resolved.resolved_final_status as final_status,
        resolved.return_reason_code,
        reasons.return_reason_name,
        case
            when resolved.accepted_at is not null
                then {{ hours_between('resolved.requested_at', 'resolved.accepted_at') }}
        end as hours_to_accept,
        case
            when resolved.resolved_arrived_at is not null
                then {{ hours_between('resolved.requested_at', 'resolved.resolved_arrived_at') }}
        end as hours_to_arrival,
        resolved.receiving_visit_key,
        resolved.receiving_visit_id,
        next_down.next_down_referral_id,
        next_down.next_down_referral_at,
        followup_links.fd_contact_at,
        followup_links.fd_contact_within_24h,
        followup_links.followup_count,
        case
            when resolved.resolved_final_status in ('returned', 'cancelled') then false
            when resolved.direction = 'up'
                then resolved.resolved_final_status = 'arrived'
                    and (next_down.next_down_referral_id is not null or followup_links.followup_count >= 1)
            else followup_links.fd_contact_at is not null and followup_links.followup_count >= 1
        end as closed_loop,
        coalesce(exam_links.had_prior_major_exam, false) as had_prior_major_exam,
        coalesce(exam_links.repeated_major_exam, false) as repeated_major_exam,
        {{ to_period('resolved.requested_at') }} as period,
        resolved.source_id,
        resolved.file_id,
        resolved.source_row_number

    from resolved
    left join institutions as from_institution
        on resolved.from_institution_code = from_institution.institution_code
    left join institutions as to_institution
        on resolved.resolved_to_institution_code = to_institution.institution_code
    left join alliance_periods as from_alliance
        on resolved.from_institution_code = from_alliance.institution_code
        and cast(resolved.requested_at as date) >= from_alliance.valid_from
        and (from_alliance.valid_to is null or cast(resolved.requested_at as date) <= from_alliance.valid_to)
    left join alliance_periods as to_alliance
        on resolved.resolved_to_institution_code = to_alliance.institution_code
        and cast(resolved.requested_at as date) >= to_alliance.valid_from
        and (to_alliance.valid_to is null or cast(resolved.requested_at as date) <= to_alliance.valid_to)
    left join next_down
        on resolved.referral_id = next_down.referral_id
    left join followup_links
        on resolved.referral_id = followup_links.referral_id
    left join exam_links
        on resolved.referral_id = exam_links.referral_id
    left join reasons
        on resolved.return_reason_code = reasons.return_reason_code

)

select * from final
