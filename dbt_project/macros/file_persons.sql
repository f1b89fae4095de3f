{#- Incremental int_referrals__file_persons (DuckDB): see the model's header. -#}

{# `where <file not kept from the previous build>` in an incremental build; nothing in a full one. #}
{% macro file_not_kept(file_column, new_files_only) -%}
    {%- if new_files_only %}
    where coalesce({{ file_column }}, '-') not in (select distinct file_id from {{ this }})
    {%- endif %}
{%- endmacro %}

{# The marker row naming the latest full standardize run ('std_full:<run id>'). #}
{% macro file_persons_full_marker(std_runs) -%}
    {{ dbt.concat(["'std_full:'", "coalesce((select cast(max(run_id) as " ~ dbt.type_string() ~ ") from "
                   ~ std_runs ~ " where mode = 'full'), '')"]) }}
{%- endmacro %}

{# Pre-hook 1: after a full standardize (the stored marker is not the latest full run's), nothing is
   kept. Without a standardize run log (hand-made test warehouses) there is no marker: nothing to do. #}
{% macro delete_all_file_persons_after_full_standardize() -%}
    {%- set std_runs = none if this is none else
        adapter.get_relation(database=this.database, schema='std', identifier='standardize_runs') -%}
    {%- if std_runs is not none and is_incremental() -%}
    delete from {{ this }}
    where not exists (select 1 from {{ this }} where file_id = {{ file_persons_full_marker(std_runs) }})
    {%- endif -%}
{%- endmacro %}

{# Pre-hook 2: drop what is recomputed: files no longer delivered, follow-up files naming a referral
   (the referral's person is read from another file), rows without a file, the reference
   fingerprints and the marker. #}
{% macro delete_stale_file_persons() -%}
    {%- if this is not none and is_incremental() -%}
    delete from {{ this }}
    where file_id like 'ref:%'
       or file_id like 'std_full:%'
       or file_id = '-'
       or file_id in (select distinct file_id from {{ ref('stg_std__followups') }} where referral_id is not null)
       or file_id not in (
            select distinct coalesce(file_id, '-') from {{ ref('stg_std__visits') }}
            union
            select distinct coalesce(file_id, '-') from {{ ref('stg_std__referrals') }}
            union
            select distinct coalesce(file_id, '-') from {{ ref('stg_std__followups') }}
       )
    {%- endif -%}
{%- endmacro %}
