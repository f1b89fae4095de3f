-- Institution levels (value domain LCV.INST_LEVEL of the standard). Level 1 is 基层医疗卫生机构:
-- primary care.
select
    code as level_code,
    name_zh as level_name,
    name_en as level_name_en,
    coalesce(value_key = 'primary_care', false) as is_primary_care

from {{ ref('stg_ref__value_domains') }}

where domain_id = 'LCV.INST_LEVEL'
