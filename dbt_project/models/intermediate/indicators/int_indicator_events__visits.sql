-- Visit-based indicators: 基层诊疗量占比, 县域内就诊率 (门急诊 / 住院), 基层首诊率, 平均住院日.
with

visits as (

    select * from {{ ref('fct_visits') }}

),

outpatient as (

    select * from visits where setting = 'outpatient'

),

inpatient as (

    select * from visits where setting = 'inpatient'

),

final as (

    {{ sum_events('primary_care_visit_share', 'outpatient',
                  'case when is_primary_care then 1 else 0 end', '1') }}

    union all

    {{ sum_events('in_county_visit_rate', 'outpatient',
                  'case when in_county then 1 else 0 end', '1', where='in_county is not null',
                  institution='null', county='residence_county_code', alliance='null', level='null') }}

    union all

    {{ sum_events('in_county_admission_rate', 'inpatient',
                  'case when in_county then 1 else 0 end', '1', where='in_county is not null',
                  institution='null', county='residence_county_code', alliance='null', level='null') }}

    union all

    {{ sum_events('primary_first_visit_rate', 'visits',
                  'case when is_primary_care then 1 else 0 end', '1', where='first_visit_of_episode') }}

    union all

    {{ sum_events('avg_length_of_stay', 'inpatient', 'length_of_stay_days', '1',
                  where='length_of_stay_days is not null', period='discharge_period') }}

)

select * from final
