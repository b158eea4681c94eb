# The default is spliced into a regex unescaped: '+' / '(' make the
# substitution silently fail and the template text stays in the string;
# '.' happens to work.
loss_name = '{{$LT_LOSS_NAME:focal+ce}}'
ann_file = '{{$LT_ANN:instances.json}}'
