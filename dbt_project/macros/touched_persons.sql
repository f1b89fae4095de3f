{#-
  Incremental referral linking (models/intermediate/referrals/int_referrals__linked_to_*): every
  link depends only on rows of the referral's own person (and on reference data, fingerprinted in
  int_referrals__file_persons), so a build re-derives the links of the persons in
  int_referrals__touched_persons and keeps the rest. The pre-hook deletes the touched persons' rows
  (also those whose referrals vanished), the model appends their new rows. `this` is none in a unit
  test: a unit test renders the full build.
-#}

{# The model config of an incremental linking model. #}
{% macro linking_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_touched_link_rows() }}"
    ) }}
{%- endmacro %}

{# `and <person is touched>` in an incremental build; nothing in a full build. #}
{% macro touched_persons_only(person_expr) -%}
    {%- if this is not none and is_incremental() %}
    and (
        exists (select 1 from {{ ref('int_referrals__touched_persons') }} where person_scope = '*')
        or coalesce({{ person_expr }}, '-') in (select person_scope from {{ ref('int_referrals__touched_persons') }})
    )
    {%- endif %}
{%- endmacro %}

{# Pre-hook: remove the touched persons' links before the model appends them again. #}
{% macro delete_touched_link_rows() -%}
    {%- if this is not none and is_incremental() -%}
    delete from {{ this }}
    where exists (select 1 from {{ ref('int_referrals__touched_persons') }} where person_scope = '*')
       or person_scope in (select person_scope from {{ ref('int_referrals__touched_persons') }})
    {%- endif -%}
{%- endmacro %}

{#-
  The same touched persons drive three incremental models outside referral linking, whose rows are
  per person: int_referrals__unioned (a disposition is a referral unless the same person has a
  platform referral), int_visits__up_referral_criteria (a visit's was_referred reads only its
  person's referrals and hospital visits) and int_chronic_care__management_monthly (a person's panel
  reads only that person's diagnoses and follow-ups). Their pre-hook deletes the touched persons' rows by
  the model's own person column; the model inserts them again.
-#}
{#- The model config of such a model: delete+insert on its key after the touched persons' rows are
    deleted; on Spark (Parquet tables rebuilt whole by the Spark engine) a table, as fct_visits. -#}
{% macro person_incremental_config(unique_key, extra_pre_hooks=[]) -%}
    {{ config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='fail',
        pre_hook=([] if target.type == 'spark'
                  else ["{{ delete_touched_person_rows('person_key') }}"] + extra_pre_hooks)
    ) }}
{%- endmacro %}

{% macro delete_touched_person_rows(person_column) -%}
    {%- if this is not none and is_incremental() -%}
    delete from {{ this }}
    where exists (select 1 from {{ ref('int_referrals__touched_persons') }} where person_scope = '*')
       or coalesce({{ person_column }}, '-') in (select person_scope from {{ ref('int_referrals__touched_persons') }})
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of int_visits__attributed (incremental by file): delete the visits of files no longer in
    std.visits, the visits without a file id (always re-derived), and everything when the touched
    scope is '*'. -#}
{% macro delete_stale_attributed_visits() -%}
    {%- if this is not none and is_incremental() -%}
    delete from {{ this }}
    where file_id is null
       or file_id not in (select file_id from {{ ref('stg_std__visits') }} where file_id is not null)
       or exists (select 1 from {{ ref('int_referrals__touched_persons') }} where person_scope = '*')
    {%- endif -%}
{%- endmacro %}
