base_name = '{{ fileBasenameNoExtension }}'
base_file = '{{fileBasename}}'
