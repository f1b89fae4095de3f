-- The diagnosis terminology (ref.terminology) with its 3-character ICD-10 category and the
-- category's attributes (condition group, chronic) from seeds/ref_diagnosis_categories.csv.
with

terminology as (

    select * from {{ ref('stg_ref__terminology') }}

),

deduplicated as (

    select
        terminology.*,
        row_number() over (partition by diagnosis_code order by diagnosis_name) as duplicate_rank

    from terminology
    where diagnosis_code is not null

),

categories as (

    select * from {{ ref('ref_diagnosis_categories') }}

),

final as (

    select
        deduplicated.diagnosis_code,
        deduplicated.diagnosis_name,
        deduplicated.icd10_category,
        categories.category_name,
        coalesce(categories.condition_group, 'other') as condition_group,
        coalesce(categories.is_chronic, false) as is_chronic

    from deduplicated
    left join categories
        on deduplicated.icd10_category = categories.icd10_category
    where deduplicated.duplicate_rank = 1

)

select * from final
