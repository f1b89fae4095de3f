{{ linking_config() }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- Each referral linked to the family-doctor contact and the follow-ups after it.
--   anchor: down-referral = accepted_at, else requested_at (when the primary side received it);
--           up-referral   = arrival (recorded, else the linked receiving visit), else requested_at.
--   family-doctor contact (down-referrals only): the first follow-up of type 1 (下转后家庭医生联系)
--           carrying this referral_id, or of the same person without a referral_id, at
--           [requested_at, anchor + fd_contact_window_days].
--   follow-ups: follow-ups of any type of the same person at a primary-care institution in
--           (anchor, anchor + followup_window_days], the family-doctor contact itself excluded.
with

referrals as (

    select * from {{ ref('int_referrals__unioned') }}
    where 1 = 1 {{ touched_persons_only('person_key') }}

),

receiving as (

    select * from {{ ref('int_referrals__linked_to_visits') }}

),

followups as (

    select * from {{ ref('stg_std__followups') }}

),

institutions as (

    select * from {{ ref('stg_ref__institutions') }}

),

anchored as (

    select
        referrals.referral_id,
        referrals.person_key,
        referrals.direction,
        referrals.requested_at,
        case
            when referrals.direction = 'down' then coalesce(referrals.accepted_at, referrals.requested_at)
            else coalesce(referrals.arrived_at, receiving.receiving_visit_at, referrals.requested_at)
        end as anchor_at

    from referrals
    left join receiving
        on referrals.referral_id = receiving.referral_id

),

contact_candidates as (

    select
        anchored.referral_id,
        followups.followup_id,
        followups.followup_at,
        row_number() over (
            partition by anchored.referral_id
            order by followups.followup_at, followups.followup_id
        ) as candidate_rank

    from anchored
    inner join followups
        on followups.followup_type = 'family_doctor_contact'
        and followups.followup_at >= anchored.requested_at
        and followups.followup_at <= {{ dbt.dateadd('day', var('fd_contact_window_days'), 'anchored.anchor_at') }}
        and (
            followups.referral_id = anchored.referral_id
            or (followups.referral_id is null and followups.person_key = anchored.person_key)
        )
    where anchored.direction = 'down'

),

contacts as (

    select referral_id, followup_id as fd_contact_followup_id, followup_at as fd_contact_at
    from contact_candidates
    where candidate_rank = 1

),

later_followups as (

    select
        anchored.referral_id,
        count(*) as followup_count

    from anchored
    inner join followups
        on followups.person_key = anchored.person_key
        and followups.followup_at > anchored.anchor_at
        and followups.followup_at <= {{ dbt.dateadd('day', var('followup_window_days'), 'anchored.anchor_at') }}
    inner join institutions
        on followups.institution_code = institutions.institution_code
        and institutions.level_code = '1'
    left join contacts
        on anchored.referral_id = contacts.referral_id
    where contacts.fd_contact_followup_id is null
       or followups.followup_id <> contacts.fd_contact_followup_id
    group by anchored.referral_id

),

final as (

    select
        anchored.referral_id,
        cast(coalesce(anchored.person_key, '-') as {{ dbt.type_string() }}) as person_scope,
        anchored.anchor_at,
        contacts.fd_contact_followup_id,
        contacts.fd_contact_at,
        case
            when anchored.direction <> 'down' then null
            when contacts.fd_contact_at is null then false
            else {{ hours_between('anchored.anchor_at', 'contacts.fd_contact_at') }} <= 24
        end as fd_contact_within_24h,
        coalesce(later_followups.followup_count, 0) as followup_count

    from anchored
    left join contacts
        on anchored.referral_id = contacts.referral_id
    left join later_followups
        on anchored.referral_id = later_followups.referral_id

)

select * from final
