{#-
  The Spark engine (docs/scale-out.md). Two kinds of macros live here:

  1. Overrides of dbt-core's date macros for Spark, found first because dbt_project.yml puts this
     project before `dbt` in the dispatch search order. dbt-spark's own versions wrap their inputs
     in assert_not_null (a NULL timestamp fails the query, where DuckDB returns NULL) and go through
     unix time; these are NULL-safe and count boundaries exactly as DuckDB's date_diff/date_add do,
     so both engines give the same answers (tests/engines/test_engine_parity.py).
  2. register_lake_sources(), the on-run-start hook: on Spark the std.* and ref.* sources are
     Parquet directories in the lake (written by pipelines.engines.spark.lake); every run registers
     them as tables. On DuckDB the sources are tables of the warehouse file and the hook is a no-op.
-#}

{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- if datepart not in ('year', 'quarter', 'month', 'week', 'day', 'hour', 'minute', 'second') -%}
        {{ exceptions.raise_compiler_error("dateadd: datepart '" ~ datepart ~ "' not supported on Spark") }}
    {%- endif -%}
    timestampadd({{ datepart | upper }}, {{ interval }}, cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}

{#- DuckDB's date_diff counts unit boundaries crossed: seconds as whole epoch seconds, days as
    calendar days. Spark's timestampdiff counts whole elapsed units instead, so it is not used. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'second' -%}
        (unix_seconds(cast({{ second_date }} as timestamp)) - unix_seconds(cast({{ first_date }} as timestamp)))
    {%- elif datepart == 'minute' -%}
        cast(floor(unix_seconds(cast({{ second_date }} as timestamp)) / 60) - floor(unix_seconds(cast({{ first_date }} as timestamp)) / 60) as bigint)
    {%- elif datepart == 'hour' -%}
        cast(floor(unix_seconds(cast({{ second_date }} as timestamp)) / 3600) - floor(unix_seconds(cast({{ first_date }} as timestamp)) / 3600) as bigint)
    {%- elif datepart == 'day' -%}
        cast(datediff(cast({{ second_date }} as date), cast({{ first_date }} as date)) as bigint)
    {%- elif datepart == 'month' -%}
        cast((year(cast({{ second_date }} as date)) - year(cast({{ first_date }} as date))) * 12
             + month(cast({{ second_date }} as date)) - month(cast({{ first_date }} as date)) as bigint)
    {%- elif datepart == 'year' -%}
        cast(year(cast({{ second_date }} as date)) - year(cast({{ first_date }} as date)) as bigint)
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff: datepart '" ~ datepart ~ "' not supported on Spark") }}
    {%- endif -%}
{%- endmacro %}

{% macro register_lake_sources() -%}
    {{ return(adapter.dispatch('register_lake_sources', 'referral_warehouse')()) }}
{%- endmacro %}

{% macro default__register_lake_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_lake_sources() -%}
    {%- set lake = env_var('RW_LAKE', '') -%}
    {%- if execute and lake -%}
        {%- set schemas = [] -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- set relation = node.schema ~ '.' ~ node.identifier -%}
            {%- do run_query("create table if not exists " ~ relation ~ " using parquet location '"
                             ~ lake ~ "/" ~ node.schema ~ "/" ~ node.identifier ~ "'") -%}
            {%- do run_query('refresh table ' ~ relation) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- dbt-spark's seed loader binds values by plain string formatting, so a text with an apostrophe
    (seeds/indicator_registry.csv: "a county's residents") breaks the INSERT. Same statements, with
    every value rendered as an escaped Spark literal. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = column_override.get(col_name, inferred_type) -%}
                  {%- set value = row[loop.index0] -%}
                  {%- if value is none -%}
                    cast(null as {{ type }})
                  {%- else -%}
                    cast('{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                  {%- endif -%}
                  {%- if not loop.last %},{% endif -%}
              {%- endfor -%})
              {%- if not loop.last %},{% endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}

{#- dbt-spark's listagg drops the ORDER BY (with a warning) and returns '' when every value is NULL;
    DuckDB's string_agg orders and returns NULL. Same result on Spark: the values are collected
    with their sort key (one `order by <expression>`), sorted, joined, and '' becomes NULL. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set key = (order_by_clause or '') | trim -%}
    {%- if key[:8] | lower == 'order by' -%}{%- set key = key[8:] | trim -%}{%- endif -%}
    {%- if ',' in key or ' desc' in (key | lower) -%}
        {{ exceptions.raise_compiler_error("listagg on Spark: one ascending `order by` expression, got: " ~ order_by_clause) }}
    {%- endif -%}
    {%- set sort_key = key if key else measure -%}
    {%- set collected -%}
        transform(
            array_sort(collect_list(case when ({{ measure }}) is not null
                                         then struct({{ sort_key }} as k, ({{ measure }}) as v) end)),
            x -> x.v)
    {%- endset -%}
    {%- if limit_num -%}{%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}{%- endif -%}
    nullif(array_join({{ collected }}, {{ delimiter_text }}), '')
{%- endmacro %}
