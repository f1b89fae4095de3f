-- Visit types (value domain LCV.VISIT_TYPE of the standard). visit_type is the English name as a
-- lower-case word (outpatient, emergency, inpatient); setting: 住院 is inpatient, 门诊 and 急诊
-- are the 门急诊 (outpatient) setting, as in the referral settings (LCV.REF_SETTING).
select
    code as visit_type_code,
    lower(name_en) as visit_type,
    name_zh as visit_type_name,
    case when value_key = 'inpatient' then 'inpatient' else 'outpatient' end as setting

from {{ ref('stg_ref__value_domains') }}

where domain_id = 'LCV.VISIT_TYPE'
