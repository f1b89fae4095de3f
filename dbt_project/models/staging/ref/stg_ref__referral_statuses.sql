-- Referral statuses (value domain LCV.REF_STATUS of the standard). final_status is the English
-- name as a lower-case word: requested, accepted, returned, arrived, no_show, cancelled
-- (accepted_values in staging/_models.yml guards the words the models rely on).
select
    code as status_code,
    lower(replace(name_en, '-', '_')) as final_status,
    name_zh as status_name_zh

from {{ ref('stg_ref__value_domains') }}

where domain_id = 'LCV.REF_STATUS'
