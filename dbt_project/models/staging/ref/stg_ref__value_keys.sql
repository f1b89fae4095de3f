-- The stable word the models' logic uses for a code (standard/value_domains.csv column value_key:
-- LCV.REF_DIRECTION 1 -> up, LCV.BOOKING_STATUS 2 -> no_show ...): the one place a code is decoded,
-- so no model carries its own copy of a code list. Joined with the macro join_value_key.
select
    domain_id,
    code,
    value_key

from {{ ref('stg_ref__value_domains') }}

where value_key is not null and value_key <> ''
