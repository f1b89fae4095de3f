-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- depends_on: {{ ref('int_referrals__linked_to_visits') }}
-- depends_on: {{ ref('int_referrals__linked_to_down_referrals') }}
-- depends_on: {{ ref('int_referrals__linked_to_followups') }}
-- depends_on: {{ ref('int_referrals__linked_to_exams') }}
-- The files (and their persons) the incremental referral links were last built from. Rewritten only
-- after every linking model succeeded (dbt skips it when one fails), so a failed build re-links the
-- same persons next time.
select file_id, person_scope from {{ ref('int_referrals__file_persons') }}
