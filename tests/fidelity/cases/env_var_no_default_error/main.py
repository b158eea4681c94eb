# An env-var template with an empty default and the variable unset -> KeyError.
data_root = '{{$LT_REQUIRED_ROOT:}}'
