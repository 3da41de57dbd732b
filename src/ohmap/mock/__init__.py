"""The embedded mock MACS1149.6+2223 field: lensed galaxies seen through the WFC3/IR grisms.

Everything a later step recovers is known here. The 14 galaxies of Wang et al. (2017, Table 2)
are exponential star-forming disks (plus off-centre low-metallicity clumps where the paper
describes them) in the source plane, with a linear metallicity gradient in deprojected radius.
Line fluxes follow the Maiolino et al. (2008) and Jones et al. (2015) calibrations, Case B
Balmer ratios and a Cardelli et al. (1989) extinction curve. The sources are ray-traced through
an analytic cluster (cored isothermal spheres, also written out as HFF-format maps), convolved
with a WFC3/IR-like PSF at 0.065" pixels, and dispersed at each PA and grism of Table 1 with
imperfect calibration (trace offsets, wavelength-zero-point shifts, roll-angle errors), stellar
continuum, contaminating neighbours and noise at the paper's depth.

Frames
------
A *PA frame* is the 2D-spectrum cutout frame of one PA: +x along the dispersion direction
(position angle ``PA_V3 - 45`` east of north, towards longer wavelengths), +y at that angle
plus 90 deg (images are not mirrored). The *reference frame* is the PA frame of the reference
PA (119 by default) without calibration errors; truth maps are given there.

Modules:

* :mod:`~ohmap.mock.inputs`: the truth parameters (``resources/``);
* :mod:`~ohmap.mock.streams`: one random stream per purpose;
* :mod:`~ohmap.mock.cluster`: the analytic cluster lens;
* :mod:`~ohmap.mock.source`: the galaxies in the source plane;
* :mod:`~ohmap.mock.imaging`: the image plane (ray tracing, PSF, direct images);
* :mod:`~ohmap.mock.grism`: sensitivity, dispersion and noise;
* :mod:`~ohmap.mock.galaxy`: one galaxy end to end;
* :mod:`~ohmap.mock.products`: stamps, truth tables and maps, the sample sheet.

The mock is the analysis run forwards, so it imports the physics of every stage; no stage
imports the mock.

Units: line fluxes in 1e-17 erg/s/cm^2 (per pixel for maps), flux densities in
1e-17 erg/s/cm^2/Angstrom, wavelengths in Angstrom, distances in kpc, angles in degrees.
"""
