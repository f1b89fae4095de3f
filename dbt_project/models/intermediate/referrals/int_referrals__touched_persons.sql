-- The persons whose referral links must be re-derived in this build (the touched-keys model of the
-- incremental linking models): persons with rows in a file not in the ledger of the last successful
-- build (new, or a corrected re-send under a new file id), and persons with rows in a ledger file no
-- longer delivered (replaced or withdrawn). '*' stands for everyone: on the first build, a full
-- refresh, a missing ledger, or changed reference data. The ledger is read without ref() on purpose:
-- it is rewritten after the linking models (int_referrals__file_ledger), so here it is the state
-- the existing link tables were built from.
{%- set ledger = adapter.get_relation(database=this.database, schema=this.schema,
                                      identifier='int_referrals__file_ledger') %}
with

current_files as (

    select file_id, person_scope from {{ ref('int_referrals__file_persons') }}

),

{% if ledger is not none and not flags.FULL_REFRESH %}
ledger as (

    select file_id, person_scope from {{ ledger }}

),

new_files as (

    select distinct file_id from current_files
    except
    select distinct file_id from ledger

),

removed_files as (

    select distinct file_id from ledger
    except
    select distinct file_id from current_files

),

touched as (

    select current_files.person_scope
    from current_files
    inner join new_files
        on current_files.file_id = new_files.file_id

    union

    select ledger.person_scope
    from ledger
    inner join removed_files
        on ledger.file_id = removed_files.file_id

)
{% else %}
touched as (

    select cast('*' as {{ dbt.type_string() }}) as person_scope

)
{% endif %}

select distinct person_scope from touched
