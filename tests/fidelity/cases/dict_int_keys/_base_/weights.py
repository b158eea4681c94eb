class_weight_map = {0: 1.0, 1: 2.0, 'bg': 0.1}
