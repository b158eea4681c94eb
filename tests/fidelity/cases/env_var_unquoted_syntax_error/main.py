# A bare (unquoted) env-var template is not valid Python; mmengine parses the
# RAW file (to detect lazy mode) before substituting -> SyntaxError.
loss_cls = dict(type='FocalLoss', gamma={{$LT_GAMMA:2.0}})
