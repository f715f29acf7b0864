{#- Use the folder's schema name as is (`marts`, `staging`), not dbt's default `<target>_<custom>`,
    because `marts` is a public name that BI tools point at (specs/marts.md). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
