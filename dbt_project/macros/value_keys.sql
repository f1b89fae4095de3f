{#- Decode a code column to the stable word of its value domain (stg_ref__value_keys, read from
    standard/value_domains.csv): `from t {{ join_value_key('LCV.REF_DIRECTION', 't.direction_code',
    'directions') }}` then `directions.value_key`. A code the standard does not list decodes to NULL. -#}
{% macro join_value_key(domain_id, code_column, alias) -%}
    left join {{ ref('stg_ref__value_keys') }} as {{ alias }}
        on {{ alias }}.domain_id = '{{ domain_id }}' and {{ alias }}.code = {{ code_column }}
{%- endmacro %}
