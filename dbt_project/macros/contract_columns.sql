{#- The columns of the calling model's contract, each cast to its declared data_type, read from
    `relation`. An incremental model with on_schema_change='fail' selects through it so that the
    rows of an incremental run have exactly the types of the table the contract created: on
    Postgres a string literal or cast is `text` while the contract's varchar column is
    `character varying`, which dbt reports as a schema change. -#}
{% macro contract_columns(relation) -%}
    {%- if not execute -%}{{ return(relation ~ '.*') }}{%- endif -%}
    {#- A unit test compiles the model as a node without columns (and without the graph): it
        compares values by name, so the columns pass through uncast there. -#}
    {%- if model.resource_type == 'unit_test' -%}{{ return(relation ~ '.*') }}{%- endif -%}
    {%- set columns = model.columns.values() | list -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error("contract_columns(): " ~ model.name ~ " declares no columns") }}
    {%- endif -%}
    {%- for column in columns %}
        cast({{ relation }}.{{ column.name }} as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
