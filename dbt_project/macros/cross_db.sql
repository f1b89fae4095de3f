{#-
  Cross-database helpers the marts need beyond dbt-core's own (dbt.datediff, dbt.dateadd,
  dbt.date_trunc, dbt.concat, dbt.cast ...). Each dispatches: default__ is ANSI-ish SQL, the
  duckdb__ variant uses the DuckDB built-in, the spark__ variant the Spark SQL built-in (the Spark
  engine, docs/scale-out.md). dbt-core's own date macros get spark__ overrides in spark_compat.sql.
-#}

{# 'YYYY-MM' label of a date or timestamp. #}
{% macro to_period(expr) -%}
    {{ return(adapter.dispatch('to_period', 'referral_warehouse')(expr)) }}
{%- endmacro %}

{% macro default__to_period(expr) -%}
    {{ dbt.concat([
        "cast(extract(year from " ~ expr ~ ") as " ~ dbt.type_string() ~ ")",
        "'-'",
        "lpad(cast(extract(month from " ~ expr ~ ") as " ~ dbt.type_string() ~ "), 2, '0')"
    ]) }}
{%- endmacro %}

{% macro duckdb__to_period(expr) -%}
    strftime(cast({{ expr }} as timestamp), '%Y-%m')
{%- endmacro %}

{% macro spark__to_period(expr) -%}
    date_format({{ expr }}, 'yyyy-MM')
{%- endmacro %}

{# Continuous percentile (0..1) as an aggregate. #}
{% macro percentile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'referral_warehouse')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{# Spark's percentile() interpolates linearly between the closest ranks, as DuckDB's quantile_cont. #}
{% macro spark__percentile_cont(expr, fraction) -%}
    percentile({{ expr }}, {{ fraction }})
{%- endmacro %}

{# Hours between two timestamps, fractional (second precision). A double on every engine (an
   integer divided by a decimal literal is a DECIMAL on Spark). #}
{% macro hours_between(start_ts, end_ts) -%}
    (cast({{ dbt.datediff(start_ts, end_ts, 'second') }} as {{ type_double() }}) / 3600.0)
{%- endmacro %}

{# Days between two timestamps, fractional (second precision). #}
{% macro days_between(start_ts, end_ts) -%}
    (cast({{ dbt.datediff(start_ts, end_ts, 'second') }} as {{ type_double() }}) / 86400.0)
{%- endmacro %}

{# First day of the month of a date/timestamp, as a date. #}
{% macro month_start(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}

{# 64-bit floating point type (type_double() is a 4-byte REAL on DuckDB). #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'referral_warehouse')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
