{#-
  Helpers of the reporting models (models/reporting): every filter combination the dashboards offer
  is one precomputed row, 'ALL' standing for "any"; people counts below the small-cell threshold
  (var small_cell_threshold, dbt_project.yml) are published as NULL with suppressed = true.
  Grouping sets and grouping() are standard SQL: DuckDB and Spark run them alike.
-#}

{# GROUPING SETS over every subset of `filters`, each set also grouped by the `fixed` columns. #}
{% macro filter_grouping_sets(fixed, filters) -%}
    {%- set sets = [] -%}
    {%- for mask in range(2 ** (filters | length)) -%}
        {%- set cols = fixed[:] -%}
        {%- for f in filters -%}
            {%- if (mask // (2 ** loop.index0)) % 2 == 1 -%}{%- do cols.append(f) -%}{%- endif -%}
        {%- endfor -%}
        {%- do sets.append('(' ~ (cols | join(', ')) ~ ')') -%}
    {%- endfor -%}
    grouping sets ({{ sets | join(', ') }})
{%- endmacro %}

{# A filter column: its value, or 'ALL' on the rows that aggregate over it. #}
{% macro all_member(col) -%}
    case when grouping({{ col }}) = 1 then 'ALL' else {{ col }} end
{%- endmacro %}

{# True when a people count is small (1 .. threshold-1); 0 is shown. #}
{% macro is_small_cell(expr) -%}
    ({{ expr }} > 0 and {{ expr }} < {{ var('small_cell_threshold') }})
{%- endmacro %}

{# A people count as published: NULL when small. #}
{% macro suppress(expr) -%}
    case when {{ is_small_cell(expr) }} then null else {{ expr }} end
{%- endmacro %}

{# The row's `suppressed` flag: any of its people counts is small. #}
{% macro any_suppressed(exprs) -%}
    ({% for e in exprs %}{{ is_small_cell(e) }}{% if not loop.last %} or {% endif %}{% endfor %})
{%- endmacro %}

{# A statistic over observations (median hours ...): NULL when it rests on fewer than the threshold. #}
{% macro unless_few(expr, n_obs) -%}
    case when {{ n_obs }} < {{ var('small_cell_threshold') }} then null else {{ expr }} end
{%- endmacro %}

{#
  The referrals of a county scope: the county filter of the referral pages means "sent from or to
  the county", so each referral appears once with scope 'ALL' and once per county it touches.
#}
{% macro referral_county_scopes(referrals) -%}
    select {{ referrals }}.*, 'ALL' as county_code from {{ referrals }}
    union all
    select {{ referrals }}.*, from_county_code as county_code from {{ referrals }}
    where from_county_code is not null
    union all
    select {{ referrals }}.*, to_county_code as county_code from {{ referrals }}
    where to_county_code is not null and (from_county_code is null or to_county_code <> from_county_code)
{%- endmacro %}

{# The filter columns of a referral aggregate: period and setting ('ALL' = any) and the county scope. #}
{% macro referral_filters() -%}
    {{ all_member('period') }} as period, county_code, {{ all_member('setting') }} as setting
{%- endmacro %}

{# GROUP BY of a referral aggregate over `columns`: every period x setting combination per county scope. #}
{% macro group_by_referral_filters(columns) -%}
    group by {{ filter_grouping_sets(['county_code'] + columns, ['period', 'setting']) }}
{%- endmacro %}

{# 该转未转 cases with the county of their institution (the 慢病管理 page's county filter). #}
{% macro undertreated_cases_in_county() -%}
    select
        cases.period,
        cases.institution_code,
        coalesce(institutions.county_code, cases.county_code) as county_code,
        cases.condition,
        cases.criterion_zh
    from {{ ref('fct_undertreated_cases') }} as cases
    left join {{ ref('dim_institutions') }} as institutions
        on institutions.institution_code = cases.institution_code
{%- endmacro %}
