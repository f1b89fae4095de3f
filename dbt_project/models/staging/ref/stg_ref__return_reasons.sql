-- Referral return reasons (value domain LCV.RETURN_REASON of the standard).
select
    code as return_reason_code,
    name_zh as return_reason_name,
    name_en as return_reason_name_en

from {{ ref('stg_ref__value_domains') }}

where domain_id = 'LCV.RETURN_REASON'
