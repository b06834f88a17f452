"""The body's colours, shared by everything that draws a dancer (``choreo.render``, the GLB writer's mesh): left
limbs warm (orange), right limbs cool (blue), the centre line light grey. RGB tuples, 0-255, sRGB."""

LEFT = (255, 128, 32)
RIGHT = (50, 150, 255)
CENTRE = (225, 225, 225)
