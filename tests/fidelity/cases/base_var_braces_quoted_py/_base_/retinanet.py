num_classes = 80
