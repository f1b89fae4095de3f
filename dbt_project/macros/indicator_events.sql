{#-
  Indicator events: every int_indicator_events__* model returns rows of this shape, one row per
  indicator x period x attribution (or per observation, for median/p90 indicators):
    indicator_id, period, breakdown, institution_code, county_code, alliance_id, level_code,
    numerator, denominator, measure
  marts/indicator_values rolls them up to every geography (indicator_rollup below).
-#}

{# Group rows of `relation_cte` into sum-type events for one indicator. #}
{% macro sum_events(indicator_id, relation_cte, numerator_expr, denominator_expr, where=none,
                    period='period', institution='institution_code', county='county_code',
                    alliance='alliance_id', level='level_code', breakdown=none) -%}
    select
        cast('{{ indicator_id }}' as {{ dbt.type_string() }}) as indicator_id,
        {{ period }} as period,
        cast({{ breakdown if breakdown else 'null' }} as {{ dbt.type_string() }}) as breakdown,
        cast({{ institution }} as {{ dbt.type_string() }}) as institution_code,
        cast({{ county }} as {{ dbt.type_string() }}) as county_code,
        cast({{ alliance }} as {{ dbt.type_string() }}) as alliance_id,
        cast({{ level }} as {{ dbt.type_string() }}) as level_code,
        cast(sum({{ numerator_expr }}) as {{ type_double() }}) as numerator,
        cast(sum({{ denominator_expr }}) as {{ type_double() }}) as denominator,
        cast(null as {{ type_double() }}) as measure
    from {{ relation_cte }}
    {% if where %}where {{ where }}{% endif %}
    group by 2, 3, 4, 5, 6, 7
{%- endmacro %}

{# One row per observation for median/p90 indicators (numerator 1, measure = the value). #}
{% macro measure_events(indicator_id, relation_cte, measure_expr, where=none,
                        period='period', institution='institution_code', county='county_code',
                        alliance='alliance_id', level='level_code', breakdown=none) -%}
    select
        cast('{{ indicator_id }}' as {{ dbt.type_string() }}) as indicator_id,
        {{ period }} as period,
        cast({{ breakdown if breakdown else 'null' }} as {{ dbt.type_string() }}) as breakdown,
        cast({{ institution }} as {{ dbt.type_string() }}) as institution_code,
        cast({{ county }} as {{ dbt.type_string() }}) as county_code,
        cast({{ alliance }} as {{ dbt.type_string() }}) as alliance_id,
        cast({{ level }} as {{ dbt.type_string() }}) as level_code,
        cast(1 as {{ type_double() }}) as numerator,
        cast(null as {{ type_double() }}) as denominator,
        cast({{ measure_expr }} as {{ type_double() }}) as measure
    from {{ relation_cte }}
    where {{ measure_expr }} is not null
    {% if where %}and {{ where }}{% endif %}
{%- endmacro %}
